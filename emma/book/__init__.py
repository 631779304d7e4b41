"""The book's tooling: executing chapters, deciding what must run again, building the site and the PDF.

Modules
-------
:mod:`~emma.book.cli`
    The ``emma-book`` command (``list``, ``status``, ``run``, ``build``, ``new``).
:mod:`~emma.book.build`
    Chapters: executing them with papermill, checking and building the site with Jupyter Book.
:mod:`~emma.book.rerun`
    Parameters and run keys: whether a chapter must run again, and why (what it imports, what it read).
:mod:`~emma.book.scaffold`
    ``emma-book new``: a new chapter that runs, listed in ``_toc.yml``'s part Extensions.
:mod:`~emma.book.record`
    The run record appendix.
:mod:`~emma.book.pdf`
    The PDF edition.

Nothing is imported here: import the module you use.
"""
