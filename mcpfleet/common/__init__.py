"""The shared runtime every mcpfleet server stands on (no server logic here)."""
