"""The private tracker's rules: ratio standing, leech slots, client rules, hit-and-run, freeleech and bonus points."""
