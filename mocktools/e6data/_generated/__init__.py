"""Generated code for the e6data mock. Do not edit: run ``python -m mocktools.e6data.build_proto``."""
