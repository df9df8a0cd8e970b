"""The bridge's scheduled tasks, one module each."""
