"""Operations: what each command does, composed from the layers below.

Owns plan and apply as whole runs (`plan_apply`), the message preview (`preview`), sync runs and
their history (`sync_runs`, `sync_history`), the embedded workspace's sync runner
(`embedded_syncs`), the choice of workspace backend and transport (`workspaces`) and run
notifications (`notify`). The only layer besides the command line that may reach the emulator,
and only through the transport `workspaces` picks. Must never parse command-line flags or print:
the command line renders what an operation returns.
"""
