"""The web page at `/`: upload, library, ask, extract and usage, in the browser.

Static files (`static/`: one HTML page, a stylesheet and plain ES modules, no build step and
nothing loaded from elsewhere) served by lectern itself, outside the auth gate: the page is
public, the API calls it makes carry the key the user typed, kept in the browser's
localStorage. `router` is registered with the API's routers in `app.main`.
"""

from app.web.routes import router

__all__ = ["router"]
