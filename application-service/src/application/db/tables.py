"""Tables of the application service's own database."""

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from mpp_shared.db.naming import NAMING_CONVENTION


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
