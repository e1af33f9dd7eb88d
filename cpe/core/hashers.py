from django.contrib.auth.hashers import Argon2PasswordHasher


class LeanArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2id at ~19 MiB, t=2, p=1 (OWASP's first recommended setting).

    Django's default costs ~100 MiB per hash, which turns a login flood into a memory
    attack on a 2-core node."""

    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
