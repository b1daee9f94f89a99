"""The live dashboard (``openmhhs dashboard``, mountable in ``openmhhs serve``): server-rendered
pages over the market's database, with every asset shipped in this package."""

from openmhhs.web.app import create_dashboard_app, dashboard_router

__all__ = ["create_dashboard_app", "dashboard_router"]
