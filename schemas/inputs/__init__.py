"""Each job kind's input model, so the API and producers validate without importing workers."""
