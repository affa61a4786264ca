"""Apply: execute a plan against the workspace through the client, recording ids in state."""
