"""The ``glance`` command-line client: commands, output formatting, progress bars.

The command line itself (flags, help, exit statuses) is :mod:`glance.cmd.shell`.
"""
