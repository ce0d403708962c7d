"""The declarative base every model module shares."""

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass
