"""intake: every reporting channel normalized into one report, published as `report.received`."""
