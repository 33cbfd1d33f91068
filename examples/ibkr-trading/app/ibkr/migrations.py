"""State migrations: this system has no database; what survives releases is the book in
shared/state/book.json. Each migration runs once, in order, when a release starts (before it
trades), and is recorded in the book's "migrations" list. Additive only, so that an older release
put back by a rollback still reads the book."""


def m001_book(book):
    """positions and cash"""
    book.setdefault("positions", {})
    book.setdefault("cash", 100_000.0)


MIGRATIONS = [
    (1, m001_book),
]


def migrate(book):
    """Apply the pending migrations; return the numbers applied now."""
    done = book.setdefault("migrations", [])
    applied = []
    for number, fn in MIGRATIONS:
        if number not in done:
            fn(book)
            done.append(number)
            applied.append(number)
    return applied
