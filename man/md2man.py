#!/usr/bin/env python3
# md2man.py: a manual page (roff) from one of recfs's Markdown documents, at build time.
#
# Owns: the small Markdown that docs/POLICY.md is written in: headings, paragraphs, "- " lists,
# ``` blocks, | tables |, `code` and **bold**. Anything else is an error, so a document that
# grows a construct this does not know fails the build instead of rendering wrong.
# Must never: add or drop words: the page says what the document says.
#
# Usage: md2man.py DOC.md NAME SECTION VERSION SUMMARY > NAME.SECTION
import re
import sys


def prose(s):
    s = re.sub(r'\*\*([^*]+)\*\*', r'\\fB\1\\fR', s)
    s = re.sub(r'\*([^*\s][^*]*)\*', r'\\fI\1\\fR', s)
    return re.sub(r'\[([^\]]+)\]\(([^)]+)\)', r'\1 (\2)', s)


def text(s):
    s = s.replace('\\', '\\e').replace('-', '\\-')
    parts = s.split('`')     # odd parts are `code`: bold, and no *emphasis* inside
    s = ''.join('\\fB%s\\fR' % p if k % 2 else prose(p) for k, p in enumerate(parts))
    if s[:1] in ('.', "'"):
        s = '\\&' + s
    return s


def cells(line):
    return [c.strip() for c in line.strip().strip('|').split('|')]


def main():
    doc, name, section, version, summary = sys.argv[1:6]
    lines = open(doc, encoding='utf-8').read().split('\n')
    out = ['.TH "%s" "%s" "" "recfs %s" "recfs manual"' % (name.upper(), section, version),
           '.SH NAME', '%s \\- %s' % (text(name), text(summary))]
    i = 0
    header = None
    while i < len(lines):
        line = lines[i]
        if line.startswith('```'):
            out += ['.PP', '.RS 4', '.nf']
            i += 1
            while i < len(lines) and not lines[i].startswith('```'):
                out.append(text(lines[i]) if lines[i] else '')
                i += 1
            if i == len(lines):
                sys.exit('%s: a ``` block is not closed' % doc)
            out += ['.fi', '.RE']
        elif line.startswith('# '):
            out += ['.SH DESCRIPTION', '.PP', text(line[2:]) + '.']
        elif line.startswith('## '):
            out += ['.SH "%s"' % text(line[3:]).upper()]
        elif line.startswith('### '):
            out += ['.SS "%s"' % text(line[4:])]
        elif line.startswith('|'):
            row = cells(line)
            if header is None:
                header = row
            elif not all(re.fullmatch(r':?-+:?', c) for c in row):
                out += ['.TP', text(row[0]), text(row[1] if len(row) > 1 else '')]
                out += ['(%s: %s)' % (text(h), text(c)) for h, c in zip(header[2:], row[2:])]
        elif re.match(r'\d+\. ', line):
            n, rest = line.split(' ', 1)
            out += ['.IP %s 4' % n, text(rest)]
        elif line.startswith('- '):
            out += ['.IP \\(bu 2', text(line[2:])]
        elif line.startswith('  ') and line.strip() and out and not out[-1].startswith('.'):
            out.append(text(line.strip()))       # a list item's next line
        elif not line.strip():
            header = None
            if out[-1] != '.PP':
                out.append('.PP')
        elif re.match(r'(\*|>|<|#{4,}) ', line):
            sys.exit('%s:%d: md2man.py does not know this Markdown: %s' % (doc, i + 1, line))
        else:
            out.append(text(line.strip()))
        i += 1
    while out[-1] == '.PP':
        out.pop()
    out += ['.SH SEE ALSO', '\\fBrecfs\\fR(1), \\fBrecfs\\-policy\\fR(1)']
    sys.stdout.write('\n'.join(out) + '\n')


main()
