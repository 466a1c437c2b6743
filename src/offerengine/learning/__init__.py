"""Learning from what happens next: offline policy evaluation (``ope``)."""
