"""One module per verb; each takes a ``Context`` (``mlgit.context``) and returns the typed results.
``Repository`` only delegates to them."""
