mod pgwire;
