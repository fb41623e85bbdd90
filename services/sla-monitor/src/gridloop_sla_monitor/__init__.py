"""sla-monitor: every order's accept and complete clocks, their warnings, breaches and board."""
