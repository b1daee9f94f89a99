"""The live dashboard (``openmhhs dashboard``, mountable in ``openmhhs serve`` as
``openmhhs.web.app.dashboard_router(db)``) and the templates the main job's report shares:
server-rendered pages over the market's database, every asset shipped in this package."""
