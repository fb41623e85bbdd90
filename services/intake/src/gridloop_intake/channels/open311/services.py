"""Open311's service list: catalogue categories as services, their attributes and discovery."""
# ruff: noqa: RUF001  (Chinese texts take full-width punctuation)

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from gridloop_common.catalogue import (
    CATEGORIES,
    CATEGORIES_BY_CODE,
    DEPARTMENTS_BY_CODE,
    Category,
)

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# When this endpoint's behaviour last changed (discovery.json's changeset); bump with the API.
CHANGESET = "2026-11-26T00:00:00Z"

Datatype = Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]


@dataclass(frozen=True)
class Attribute:
    """A service's extra question (the spec's service definition attribute)."""

    code: str
    datatype: Datatype
    description: str
    order: int
    required: bool = False
    values: tuple[tuple[str, str], ...] = ()
    max_length: int = 100

    def as_open311(self) -> dict[str, Any]:
        rendered: dict[str, Any] = {
            "variable": True,
            "code": self.code,
            "datatype": self.datatype,
            "required": self.required,
            "datatype_description": None,
            "order": self.order,
            "description": self.description,
        }
        if self.values:
            rendered["values"] = [{"key": key, "name": name} for key, name in self.values]
        return rendered

    def problem_with(self, value: str) -> str | None:
        if self.values and value not in {key for key, _ in self.values}:
            return f"must be one of {', '.join(key for key, _ in self.values)}"
        if len(value) > self.max_length:
            return f"longer than {self.max_length} characters"
        if self.datatype == "string" and ("\n" in value or "\r" in value):
            return "a string attribute takes one line"
        return None


SEVERITY = Attribute(
    "severity",
    "singlevaluelist",
    "严重程度 (severity)",
    order=1,
    values=(("low", "一般"), ("medium", "较重"), ("high", "紧急")),
)
FLOOR = Attribute("floor", "string", "楼层，如 3、B1 (floor)", order=2, max_length=16)
LANDMARK = Attribute(
    "landmark", "string", "附近地标，如店名、门牌、路口 (nearby landmark)", order=2, max_length=100
)
# Problems inside a building are found by floor; problems on a street by a landmark nearby.
FLOOR_SERVICES = frozenset(
    {
        "elevator-fault",
        "property-service",
        "dangerous-house",
        "fire-hazard",
        "gas-leak",
        "neighbourhood-noise",
        "restaurant-fumes",
        "old-community-renovation",
        "public-toilet",
    }
)
LANDMARK_SERVICES = frozenset(
    {
        "road-damage",
        "street-light",
        "street-light-install",
        "manhole-cover",
        "drain-blockage",
        "street-vending",
        "illegal-ads",
        "bike-parking",
        "greenery",
        "fallen-tree",
        "construction-waste",
        "illegal-building",
        "open-burning",
        "flooding",
        "bus-stop",
        "rural-road",
        "bridge-safety",
        "traffic-signal",
        "illegal-parking",
        "road-signs",
        "water-pipe-burst",
        "power-line-hazard",
    }
)


def attributes_of(service_code: str) -> tuple[Attribute, ...]:
    floor = (FLOOR,) if service_code in FLOOR_SERVICES else ()
    landmark = (LANDMARK,) if service_code in LANDMARK_SERVICES else ()
    return (SEVERITY, *floor, *landmark)


def department_name(code: str | None) -> str | None:
    department = DEPARTMENTS_BY_CODE.get(code) if code else None
    return department.name_zh if department else None


def service_notice(category_code: str) -> str | None:
    category = CATEGORIES_BY_CODE.get(category_code)
    if category is None:
        return None
    return (
        f"由{department_name(category.department)}办理，"
        f"自派遣起{category.complete_within_hours:g}小时内办结"
    )


def linked_notice(linked_to: str) -> str:
    return f"与服务请求 {linked_to} 为同一问题，已并入其办理"


def _service(category: Category) -> dict[str, Any]:
    return {
        "service_code": category.code,
        "service_name": category.name_zh,
        "description": f"{category.name_zh}：{service_notice(category.code)}",
        "metadata": bool(attributes_of(category.code)),
        "type": "realtime",
        "keywords": ", ".join(category.keywords),
        "group": department_name(category.department),
    }


# The catalogue is constant: render the list once, not per request.
SERVICES: tuple[dict[str, Any], ...] = tuple(_service(c) for c in CATEGORIES)


def service_definition(service_code: str) -> dict[str, Any] | None:
    if service_code not in CATEGORIES_BY_CODE:
        return None
    return {
        "service_code": service_code,
        "attributes": [a.as_open311() for a in attributes_of(service_code)],
    }


def discovery(endpoint_url: str) -> dict[str, Any]:
    return {
        "changeset": CHANGESET,
        "contact": "宁国市智慧治理中心 (Ningguo smart-governance center), via the city operator",
        "key_service": (
            "POST requests.json needs an api_key issued by the city operator "
            "(GRIDLOOP_OPEN311_API_KEYS); `make up` accepts dev-open311-key"
        ),
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": endpoint_url,
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["application/json"],
            }
        ],
    }
