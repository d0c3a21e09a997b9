#!/usr/bin/env python3
"""Print the mutation score of each mutated module from mutmut's result files.

Run after ``mutmut run`` (``tox -e mutation`` does both), from the repository root.
A mutant counts as killed when a test failed or timed out on it. Mutants listed in
``tests/mutation-equivalents.txt`` (``<mutant name>  # why it is equivalent``) are
equivalent to the original code: no test can kill them, so they leave the
denominator. The score is killed / (mutants - equivalent - not yet checked).

Usage: ``tools/mutation-scores.py [--survivors]`` (also list every surviving mutant
that is not explained as equivalent).
"""

import collections
import json
import pathlib
import sys

KILLED_CODES = {1, 3, 24, -24, 36, 37, 152, 255}
SURVIVED_CODES = {0}
NOT_CHECKED = {None}
EQUIVALENTS = pathlib.Path('tests/mutation-equivalents.txt')


def equivalents():
    """Mutant names explained as equivalent, with their reasons."""
    if not EQUIVALENTS.exists():
        return {}
    explained = {}
    for line in EQUIVALENTS.read_text().splitlines():
        name, _, why = line.partition('#')
        if name.strip():
            explained[name.strip()] = why.strip()
    return explained


def main():
    """Print one row per module, then the total; exit 1 without results."""
    explained = equivalents()
    rows = collections.OrderedDict()
    survivors = []
    for meta in sorted(pathlib.Path('mutants').glob('glance/**/*.py.meta')):
        module = str(meta.relative_to('mutants'))[:-len('.meta')]
        exit_codes = json.loads(meta.read_text())['exit_code_by_key']
        if not exit_codes:
            continue
        counts = collections.Counter()
        for name, code in exit_codes.items():
            if name in explained:
                counts['equivalent'] += 1
            elif code in KILLED_CODES:
                counts['killed'] += 1
            elif code in SURVIVED_CODES:
                counts['survived'] += 1
                survivors.append(name)
            elif code in NOT_CHECKED:
                counts['not checked'] += 1
            else:
                counts['other'] += 1
                survivors.append(name)
        counts['mutants'] = len(exit_codes)
        rows[module] = counts
    if not rows:
        print('no mutmut results under mutants/: run "mutmut run" first')
        return 1
    total = sum(rows.values(), collections.Counter())
    print('%-32s %7s %7s %8s %10s %5s %7s' % ('module', 'mutants', 'killed', 'survived',
                                              'equivalent', 'other', 'score'))
    for module, counts in list(rows.items()) + [('TOTAL', total)]:
        checked = counts['mutants'] - counts['equivalent'] - counts['not checked']
        score = '%.1f%%' % (100.0 * counts['killed'] / checked) if checked else '-'
        print('%-32s %7d %7d %8d %10d %5d %7s' % (
            module, counts['mutants'], counts['killed'], counts['survived'],
            counts['equivalent'], counts['other'], score))
    if '--survivors' in sys.argv[1:]:
        print('\nsurviving mutants (see each with "mutmut show <name>"):')
        for name in survivors:
            print('  ' + name)
    return 0


if __name__ == '__main__':
    sys.exit(main())
