"""dispatch: the smart-governance center — opens cases, routes work orders, records replies."""
