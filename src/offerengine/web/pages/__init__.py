"""The admin UI's pages, one module per menu; :mod:`offerengine.web.router` puts them on the app."""
