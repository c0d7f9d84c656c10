"""The catalogue: plans, add-ons and metered products with a price per currency, each put at its
code (``PUT /plans/{code}``: 201 the first time, then 200; the same document changes nothing)."""

from __future__ import annotations

from bot.admin.routing import Call, Out, Routes, found, wrote
from services.backoffice import catalogue
from services.backoffice.catalogue import AddonDoc, CodeListing, MeteredProductDoc, PlanDoc
from services.backoffice.common import Page

PLANS = Routes("plans", "Plans (server, subscription, support and mail packages) and their prices.")
ADDONS = Routes("addons", "Add-ons of orders and their monthly prices.")
METERED = Routes("metered-products", "Packages billed by the hour (reseller accounts, add-ons, packs).")


@PLANS.get("/plans", "List plans", returns=Page[PlanDoc])
async def list_plans(call: Call, query: CodeListing) -> Out:
    """By code; ``after`` is the last code of the previous page."""
    items, after = await catalogue.plans(call.uow, query)
    return Out(Page[PlanDoc](items=items, next=call.next_link(after)))


@PLANS.get("/plans/{code}", "Read a plan", returns=PlanDoc)
async def get_plan(call: Call, code: str) -> Out:
    return found(call, f"/plans/{code}", await catalogue.plan(call.uow, code))


@PLANS.put("/plans/{code}", "Create or update a plan", returns=PlanDoc)
async def put_plan(call: Call, code: str, body: PlanDoc) -> Out:
    """The prices listed are set; a currency not listed keeps its price (orders may use it)."""
    change = await catalogue.put_plan(call.uow, body, call.staff, code)
    return wrote(call, f"/plans/{code}", change, await catalogue.plan(call.uow, code))


@ADDONS.get("/addons", "List add-ons", returns=Page[AddonDoc])
async def list_addons(call: Call, query: CodeListing) -> Out:
    items, after = await catalogue.addons(call.uow, query)
    return Out(Page[AddonDoc](items=items, next=call.next_link(after)))


@ADDONS.get("/addons/{code}", "Read an add-on", returns=AddonDoc)
async def get_addon(call: Call, code: str) -> Out:
    return found(call, f"/addons/{code}", await catalogue.addon(call.uow, code))


@ADDONS.put("/addons/{code}", "Create or update an add-on", returns=AddonDoc)
async def put_addon(call: Call, code: str, body: AddonDoc) -> Out:
    change = await catalogue.put_addon(call.uow, body, call.staff, code)
    return wrote(call, f"/addons/{code}", change, await catalogue.addon(call.uow, code))


@METERED.get("/metered-products", "List metered products", returns=Page[MeteredProductDoc])
async def list_metered_products(call: Call, query: CodeListing) -> Out:
    items, after = await catalogue.metered_products(call.uow, query)
    return Out(Page[MeteredProductDoc](items=items, next=call.next_link(after)))


@METERED.get("/metered-products/{code}", "Read a metered product", returns=MeteredProductDoc)
async def get_metered_product(call: Call, code: str) -> Out:
    return found(call, f"/metered-products/{code}", await catalogue.metered_product(call.uow, code))


@METERED.put("/metered-products/{code}", "Create or update a metered product", returns=MeteredProductDoc)
async def put_metered_product(call: Call, code: str, body: MeteredProductDoc) -> Out:
    """Hourly rates in minor units with up to four decimals; the hours recorded from now on use them."""
    change = await catalogue.put_metered_product(call.uow, body, call.staff, code)
    return wrote(call, f"/metered-products/{code}", change, await catalogue.metered_product(call.uow, code))


ROUTES = (PLANS, ADDONS, METERED)
