#  gateway tests
