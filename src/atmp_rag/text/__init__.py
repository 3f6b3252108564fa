"""The one text layer: sentences, headings, lexical statistics and content rules shared by every stage."""
