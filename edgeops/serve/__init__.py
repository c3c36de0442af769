"""`edgeops serve`: an HTTP prediction server for the models the local backend published.

Import-light: Starlette, uvicorn, LiteRT and Pillow are imported by :mod:`edgeops.serve.app` and
the modules it puts together, never by ``edgeops --help``; :mod:`edgeops.serve.settings` checks
the command line without them.
"""
