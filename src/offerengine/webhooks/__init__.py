"""Outgoing webhooks: signed POSTs of a tenant's notices (low inventory today, campaigns' next),
delivered at least once from a stored outbox, only to destinations the deployment allows.

- :mod:`~offerengine.webhooks.core`: signatures, destination checks, retry delays (pure);
- :mod:`~offerengine.webhooks.service`: notices into the outbox, the tenant's secret, the
  deliveries an admin lists and sends again;
- :mod:`~offerengine.webhooks.outbox`: the deliverer's claims and records of attempts;
- :mod:`~offerengine.webhooks.sending`: one attempt over HTTP, to a vetted address;
- :mod:`~offerengine.webhooks.delivery`: each worker's deliverer loop.
"""
