"""scoring: one fact per case and SLA event, counted per department and (later) ranked by period."""
