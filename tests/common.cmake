#  common tests
