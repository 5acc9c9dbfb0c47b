'use strict';
throw new Error('this tasks file is broken');
