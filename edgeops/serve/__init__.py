"""`edgeops serve`: an HTTP prediction server for the models the local backend published.

Import-light: Starlette, uvicorn, LiteRT and Pillow are imported by :mod:`edgeops.serve.app`
and :mod:`edgeops.serve.models`, never by ``edgeops --help``.
"""
