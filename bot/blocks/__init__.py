"""Pure functions from results to Block Kit: messages, modals, the Home tab."""
