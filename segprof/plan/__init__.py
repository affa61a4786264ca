"""Planning: desired (config) vs recorded state vs live workspace → a Plan, and its renderers.

Must never talk to a network or a warehouse: the operations layer gathers the inputs.
"""
