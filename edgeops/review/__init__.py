"""``edgeops review``: a local web app to review a dataset and label its images.

The labels live in the dataset's labels file in the repository (``source.labels_file``); every
change in the page is written there at once, so a labelling session ends as a diff that
``edgeops plan`` shows. Starlette, uvicorn and Pillow are imported only by the app itself.
"""
