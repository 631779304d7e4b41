"""The book's tooling: executing chapters, deciding what must run again, building the site and the PDF.

Modules
-------
:mod:`~emma_book.layout`
    Where things are: the checkout, the chapters (``NN_name.py``, appendices ``AN_name.py``), the output folders.
:mod:`~emma_book.cli`
    The ``emma-book`` command (``list``, ``status``, ``run``, ``build``, ``new``).
:mod:`~emma_book.build`
    Chapters: executing them with papermill, checking and building the site with Jupyter Book.
:mod:`~emma_book.cells`
    What every executed chapter carries: folded boilerplate, a first cell that installs the package elsewhere.
:mod:`~emma_book.update`
    What ``run``, ``status`` and ``build`` execute, and why: a book is built only from up-to-date chapters.
:mod:`~emma_book.theme`
    The book's Sphinx page hooks (the PDF edition's link on every page).
:mod:`~emma_book.params`
    Parameters: profiles, ``-f`` files and ``-p`` pairs resolved per chapter, each checked before any kernel starts.
:mod:`~emma_book.rules`
    What each chapter parameter accepts: its type from the chapter's default, its range or choices by name.
:mod:`~emma_book.rerun`
    Run keys: whether a chapter must run again, and why (what it imports, what it read and wrote).
:mod:`~emma_book.runs`
    Run folders and the lock: a chapter's outputs become visible only with its executed notebook.
:mod:`~emma_book.scaffold`
    ``emma-book new``: a new chapter that runs, listed in ``_toc.yml``'s part Extensions.
:mod:`~emma_book.record`
    The run record appendix.
:mod:`~emma_book.pdf`
    The PDF edition.
:mod:`~emma_book.api`
    The API reference appendix (a Sphinx directive over autodoc).
:mod:`~emma_book.branch`
    The ``notebooks`` branch that launched chapters (Binder, Colab) run from.
:mod:`~emma_book.publish`
    What a build publishes: only the outputs the chapters' runs recorded they wrote.

Nothing is imported here: import the module you use.
"""
