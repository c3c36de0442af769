"""Running exported models: the image preprocessing they expect and the LiteRT interpreter.

Shared by the local trainer (features, evaluation), the prediction server and the benchmarks, so
an image is prepared the same way wherever a model sees it.
"""
