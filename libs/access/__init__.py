"""Who may do what: the API key ring and the scope and tenant checks both edges use."""
