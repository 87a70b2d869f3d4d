#  integration tests
