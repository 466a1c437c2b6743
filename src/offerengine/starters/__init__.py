"""The template library shipped with the product: template sets of products, bundle templates and
fare family sets (``sets/*.json``) that a tenant applies through each kind's own import, in one
transaction, idempotently; a tenant can be created from sets (``template_sets`` on creation)."""
