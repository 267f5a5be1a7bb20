"""Domain operations shared by handlers, flows, the CLI and (later) the staff dashboard."""
