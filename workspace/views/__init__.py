"""The workspace pages: one module per page, plus shared widgets."""
