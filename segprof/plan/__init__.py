"""Planning: desired (config) vs recorded state vs live workspace → a Plan, and its renderers."""
