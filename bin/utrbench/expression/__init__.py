"""expression"""
