"""notify: tells people what happened to their reports, through pluggable delivery channels."""
