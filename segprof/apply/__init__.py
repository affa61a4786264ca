"""Apply: execute a plan against the workspace through the client, recording ids in state.

Must never choose a backend or a transport: it is handed a client.
"""
