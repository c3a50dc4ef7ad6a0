"""ML-Git's less common verbs, one module each; ``Repository`` delegates to them."""
