from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from offerengine.db.base import Base


class SystemState(Base):
    """Deployment-wide counters; ``auth_version`` moves whenever a key is revoked or a tenant changes
    status, so that every worker drops its cache of verified keys."""

    __tablename__ = "system_state"

    key: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    value: Mapped[int] = mapped_column(sa.BigInteger, default=0)
