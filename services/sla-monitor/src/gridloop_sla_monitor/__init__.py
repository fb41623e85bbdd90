"""sla-monitor: times every order's hand-offs and publishes `sla.met` and `sla.breached`."""
