"""Data files shipped with kronconv: simpleNN's mnist-demo (see README.md and COPYRIGHT here).

Read them through :func:`kronconv.data.mnist_demo`.
"""
