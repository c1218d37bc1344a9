"""Builder families; importing this package registers every subtask builder."""

from . import attributes, geometry, mentality, position, proximity, scene, shared_target, subevent  # noqa: F401
